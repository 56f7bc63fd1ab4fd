# shellcheck shell=bash
# Sourced by scripts/compose-e2e.sh (not run on its own): the checks of who can reach what.
#   every compose file     auth refuses calls without a key (401) and from the wrong caller
#                          (403); the host reaches auth nowhere, or only to get 401
#   docker-compose.yaml    the frontend can neither resolve nor reach auth (users can) and
#                          holds no key; nginx forwards only the page's routes, limits each
#                          client address (429, 503 JSON), closes slow clients after 10 s, and
#                          replaces X-Forwarded-For, so users-api's limits key by the real
#                          client behind it, whatever the client writes there
# It uses compose-e2e.sh's helpers (compose, http, pass, fail, service_container, network_ip)
# and settings (PROBE_IMAGE, *_NET, *_KEY, FRONTEND_URL, NGINX_*, SIGNUP_BURST, WORK).

# A request from inside a container, in bash (the service images have no shell, no curl):
# M, H, P, U = method, host, port, path; A = a bearer key or empty; X = an X-Forwarded-For or
# empty; B = the JSON body. Prints the whole answer; HTTP/1.0, so the server closes after it.
# shellcheck disable=SC2016 # expanded by the bash in the container
RAW_HTTP='exec 3<>"/dev/tcp/$H/$P" || exit 7
printf "%s %s HTTP/1.0\r\nHost: %s\r\n" "$M" "$U" "$H" >&3
[[ -z "${A:-}" ]] || printf "Authorization: Bearer %s\r\n" "$A" >&3
[[ -z "${X:-}" ]] || printf "X-Forwarded-For: %s\r\n" "$X" >&3
printf "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" "${#B}" "$B" >&3
timeout 10 cat <&3'

# in_netns CONTAINER SCRIPT [docker run options]: runs bash SCRIPT in a throwaway container
# inside CONTAINER's network namespace (its addresses, its DNS), read-only, no capabilities.
in_netns() {
  local target=$1 script=$2
  shift 2
  docker run --rm --network "container:$target" --read-only --cap-drop ALL \
    --security-opt no-new-privileges:true "$@" --entrypoint bash "$PROBE_IMAGE" -c "$script"
}

# auth_call CONTAINER PATH KEY BODY: POST to auth:80 from CONTAINER's namespace; sets ANSWER
# (head and body, no CRs) and ANSWER_STATUS.
ANSWER=""; ANSWER_STATUS=""
auth_call() {
  ANSWER="$(in_netns "$1" "$RAW_HTTP" -e M=POST -e H=auth -e P=80 -e U="$2" -e A="$3" -e B="$4" 2>&1 | tr -d '\r')" || true
  ANSWER_STATUS="$(head -n1 <<<"$ANSWER" | awk '/^HTTP\// {print $2}')"
}
expect_answer() { # expect_answer CODE 'what'
  [[ "$ANSWER_STATUS" == "$1" && "$ANSWER" == *'{"message":'* ]] \
    || fail "$2: expected $1 JSON, got: $(head -c 400 <<<"$ANSWER")"
}

check_auth_requires_key() { # from tasks' namespace: what any process there could send
  local tasks forged
  # The first replica's; not `| head -n1`, which may close the pipe before compose has written
  # the second id (compose then fails, and with pipefail so does this line).
  tasks="$(service_container tasks)"; tasks=${tasks%%$'\n'*}
  # The attack of issue 20: a hash of a password of one's choosing, then a token for any user
  # id with it. Without a key, neither step is answered.
  auth_call "$tasks" /hashed-password "" '{"password":"chosen-password"}'
  expect_answer 401 "auth: POST /hashed-password without a key"
  forged='{"userId":"victim","password":"chosen-password","hashedPassword":"x"}'
  auth_call "$tasks" /token "" "$forged"
  expect_answer 401 "auth: POST /token without a key"
  grep -qi '^www-authenticate: Bearer' <<<"$ANSWER" || fail "auth: 401 without WWW-Authenticate: Bearer: $ANSWER"
  auth_call "$tasks" /hashed-password "$(openssl rand -hex 32)" '{"password":"x"}'
  expect_answer 401 "auth: POST /hashed-password with an unknown key"
  auth_call "$tasks" /token "$TASKS_KEY" "$forged"
  expect_answer 403 "auth: POST /token with tasks-api's key (a route for users-api only)"
  auth_call "$tasks" /verify-token "$USERS_KEY" '{"token":"x"}'
  expect_answer 403 "auth: POST /verify-token with users-api's key (a route for tasks-api only)"
  pass "auth from tasks' network namespace: /hashed-password and /token without a key 401 (WWW-Authenticate: Bearer), an unknown key 401, tasks' key on /token 403, users' key on /verify-token 403"
}

check_host_to_auth() { # every address auth listens on, tried from the host
  local owner ip seen=""
  owner="$(service_container auth)"
  # The Pod variant: auth has no addresses of its own, it listens on users'.
  [[ "$(docker inspect -f '{{.HostConfig.NetworkMode}}' "$owner")" == container:* ]] && owner="$(service_container users)"
  for ip in $(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$owner"); do
    if timeout 3 bash -c "exec 3<>/dev/tcp/$ip/80" 2>/dev/null; then
      http POST "http://$ip:80/hashed-password" '{"password":"chosen-password"}'
      [[ "$STATUS" == 401 ]] || fail "the host reaches auth at $ip:80, and /hashed-password without a key answers $STATUS: $BODY"
      http POST "http://$ip:80/token" '{"userId":"victim","password":"chosen-password","hashedPassword":"x"}'
      [[ "$STATUS" == 401 ]] || fail "the host reaches auth at $ip:80, and /token without a key answers $STATUS: $BODY"
      seen+=" $ip:80 401"
    else
      seen+=" $ip:80 unreachable"
    fi
  done
  [[ -n "$seen" ]] || fail "auth (or the namespace it lives in) has no address"
  pass "the host calling auth's addresses directly, POST /hashed-password and /token without a key:$seen"
}

check_frontend_cannot_reach_auth() {
  local users auth auth_ip out
  users="$(service_container users)"; auth="$(service_container auth)"
  auth_ip="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$auth" | awk '{print $1}')"
  [[ -n "$auth_ip" ]] || fail "auth has no address"
  # The control: the same two connections succeed from users' namespace.
  out="$(in_netns "$users" "exec 3<>/dev/tcp/auth/80 && exec 4<>/dev/tcp/$auth_ip/80 && echo both" 2>&1)" \
    || fail "users cannot reach auth (auth:80, $auth_ip:80): $out"
  if out="$(compose exec -T frontend bash -c 'exec 3<>/dev/tcp/auth/80' 2>&1)"; then
    fail "the frontend connected to auth:80"
  fi
  [[ "$out" == *"Name or service not known"* || "$out" == *"name resolution"* ]] \
    || fail "the frontend: auth:80 failed, but not because the name is unknown: $out"
  if out="$(compose exec -T frontend timeout 3 bash -c "exec 3<>/dev/tcp/$auth_ip/80" 2>&1)"; then
    fail "the frontend connected to auth's address $auth_ip:80"
  fi
  pass "the frontend cannot resolve auth nor reach $auth_ip:80; users reaches both"
  out="$(compose exec -T frontend env)"
  ! grep -Eq '^(AUTH_API_KEY|USERS_API_KEY|TASKS_API_KEY|JWT_SECRET)=' <<<"$out" \
    || fail "the frontend's environment holds a key: $(grep -Eo '^[A-Z_]*(KEY|SECRET)=' <<<"$out" | tr '\n' ' ')"
  pass "the frontend's environment holds no key and no JWT secret"
}

check_frontend_routes() { # only the page's routes reach users and tasks
  local path paths=(/api/users/metrics /api/users/openapi.json /api/users/healthz /api/users/readyz
    /api/tasks/metrics /api/tasks/openapi.json /api/tasks/healthz /api/tasks/tasks/x
    /api/users/%6detrics /api/auth/token)
  for path in "${paths[@]}"; do
    http GET "$FRONTEND_URL$path"
    [[ "$STATUS" == 404 && "$BODY" == *"$NGINX_404_MESSAGE"* ]] \
      || fail "frontend: $path answered $STATUS, expected nginx's own 404 JSON: $BODY"
  done
  STATUS="$(curl -sS --noproxy '*' --path-as-is -o "$WORK/body" -w '%{http_code}' "$FRONTEND_URL/api/users/network/../metrics")" || STATUS=000
  [[ "$STATUS" == 404 && "$(cat "$WORK/body")" == *"$NGINX_404_MESSAGE"* ]] \
    || fail "frontend: /api/users/network/../metrics answered $STATUS: $(cat "$WORK/body")"
  pass "frontend: ${paths[*]} /api/users/network/../metrics -> nginx's 404 JSON"
  http POST "$FRONTEND_URL/api/users/signup" "{\"email\":\"route-$RANDOM$RANDOM@test.com\",\"password\":\"testers\"}"
  expect 201 "frontend: POST /api/users/signup reaches users-api" "User created!"
  http GET "$FRONTEND_URL/api/tasks/network"
  expect 200 "frontend: GET /api/tasks/network reaches tasks-api" '"service":"tasks-api"'
}

# Two clients that stop sending, one in its head, one in its body, started before the other
# frontend checks; check_nginx_limits reads how long nginx kept each.
start_slow_clients() {
  ( t0=$SECONDS
    exec 3<>/dev/tcp/127.0.0.1/3000 && printf 'GET / HTTP/1.1\r\nHost: localhost\r\n' >&3 \
      && { timeout 40 cat <&3 >/dev/null || true; }
    echo $((SECONDS - t0)) >"$WORK/slow-head" ) &
  ( t0=$SECONDS
    exec 3<>/dev/tcp/127.0.0.1/3000 \
      && printf 'POST /api/users/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"email"' >&3 \
      && { timeout 40 cat <&3 >/dev/null || true; }
    echo $((SECONDS - t0)) >"$WORK/slow-body" ) &
}

check_nginx_limits() {
  local kind took answers codes n200 n429 fds=() fd i urls=()
  wait   # the slow clients
  for kind in head body; do
    took="$(cat "$WORK/slow-$kind" 2>/dev/null || echo '?')"
    if ! [[ "$took" =~ ^[0-9]+$ ]] || (( took < 8 || took > 14 )); then
      fail "frontend: a client that stopped in its request $kind was closed after ${took}s, expected ~10s (client_${kind/head/header}_timeout)"
    fi
  done
  pass "frontend: clients stalled in the request head and body closed after $(cat "$WORK/slow-head")s and $(cat "$WORK/slow-body")s"

  # limit_req: 100 requests back to back on one connection from one address. The 429s are read
  # from the burst itself: a request sent after it may find a token again (one every 100 ms).
  for i in $(seq 100); do urls+=("$FRONTEND_URL/api/users/network"); done
  answers="$(curl -sS --noproxy '*' -w '\ncode=%{http_code} retry-after=%header{retry-after}\n' "${urls[@]}" 2>&1)"
  codes="$(sed -n 's/^code=\([0-9]*\) .*/\1/p' <<<"$answers")"
  n200="$(grep -c '^200$' <<<"$codes" || true)"; n429="$(grep -c '^429$' <<<"$codes" || true)"
  (( n200 >= 40 && n429 >= 30 && n200 + n429 == 100 )) \
    || fail "frontend: 100 requests at once from one address: $n200 x 200, $n429 x 429 (expected the burst of 50 answered, most of the rest 429): $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
  [[ "$(grep -c '^code=429 retry-after=1$' <<<"$answers")" == "$n429" \
     && "$(grep -c -F "$NGINX_LIMIT_MESSAGE" <<<"$answers")" -ge "$n429" ]] \
    || fail "frontend: over limit_req, expected every 429 to be JSON with Retry-After: 1, got: $(grep -m1 -B1 '^code=429' <<<"$answers")"
  pass "frontend: 100 requests at once from one address: $n200 answered, $n429 x 429 JSON with Retry-After"
  sleep 6   # the address's bucket drains (10 a second)

  # limit_conn: 20 requests held open in their bodies, then one more.
  for i in $(seq 20); do
    exec {fd}<>/dev/tcp/127.0.0.1/3000
    printf 'POST /api/users/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{' >&"$fd"
    fds+=("$fd")
  done
  sleep 1   # nginx has read the 20 heads (well inside client_body_timeout)
  http GET "$FRONTEND_URL/api/users/network"
  for fd in "${fds[@]}"; do exec {fd}>&-; done
  [[ "$STATUS" == 503 && "$BODY" == *"$NGINX_CONN_MESSAGE"* && "$HEADERS" =~ [Rr]etry-[Aa]fter:\ 1 ]] \
    || fail "frontend: with 20 requests in progress from this address, a 21st: expected 503 JSON with Retry-After: 1, got $STATUS: $BODY"
  sleep 1
  http GET "$FRONTEND_URL/api/users/network"; expect 200 "frontend: with those 20 closed, the address is served again" '"service":"users-api"'
  pass "frontend: 20 requests in progress from one address, the 21st 503 JSON with Retry-After"
}

# users-api's signup limit per address (SIGNUP_BURST) as the witness of whom it counts: each
# signup here is refused (422, a short password) after being counted, before any hashing.
check_client_address() {
  local i first_limited=0 frontend_ip script out
  # 1. From the host through nginx, each request claiming another client in X-Forwarded-For.
  for i in $(seq 1 "$SIGNUP_BURST"); do
    http POST "$FRONTEND_URL/api/users/signup" "{\"email\":\"xff-$i-$RANDOM@test.com\",\"password\":\"x\"}" "" \
      "X-Forwarded-For: 203.0.113.$i"
    case "$STATUS" in
      422) ;;
      429) [[ "$BODY" == *"signups from your address"* ]] || fail "spoofed X-Forwarded-For: a 429 that is not users-api's per-address one: $BODY"
           first_limited=$i; break ;;
      *) fail "spoofed X-Forwarded-For: signup #$i answered $STATUS: $BODY" ;;
    esac
  done
  (( first_limited > 0 )) \
    || fail "$SIGNUP_BURST signups through the frontend, each with its own X-Forwarded-For, never reached users-api's limit per address: it believed what the client wrote"
  pass "through the frontend, signups with $first_limited different spoofed X-Forwarded-For values share one limit per address (429 at #$first_limited)"

  # 2. From a second client: the frontend itself, at its own address (one that users-api
  # trusts as the proxy). Its first signup is not limited (users-api counts clients behind
  # the frontend apart, TRUSTED_PROXIES), and spoofing does not help it either (nginx replaces
  # the header: appended, users-api would skip the trusted hop and believe the spoofed one).
  frontend_ip="$(network_ip "$(service_container frontend)" "$PUBLIC_NET")"
  script='for i in $(seq 1 '"$SIGNUP_BURST"'); do
  B="{\"email\":\"xff-fe-$i-$RANDOM@test.com\",\"password\":\"x\"}" M=POST H='"$frontend_ip"' P=8080 U=/api/users/signup X="198.51.100.$i"
  answer="$( '"$RAW_HTTP"' )"; answer="${answer//$'"'\r'"'/}"
  status="$(head -n1 <<<"$answer" | cut -d" " -f2)"
  echo "$i $status $(tail -n1 <<<"$answer")"
  [[ "$status" != 429 ]] || break
done'
  out="$(compose exec -T frontend bash -c "$script" 2>&1)" || fail "signups from inside the frontend failed: $out"
  [[ "$(head -n1 <<<"$out")" == "1 422 "* ]] \
    || fail "a second client behind the frontend ($frontend_ip) is limited with the first: users-api counts every client behind the frontend as one (TRUSTED_PROXIES?): $(head -n1 <<<"$out")"
  grep -q "^[0-9]* 429 .*signups from your address" <<<"$out" \
    || fail "the frontend's own address with spoofed X-Forwarded-For values never reached the limit (nginx appends instead of replacing?): $(tr '\n' '|' <<<"$out")"
  pass "a second client ($frontend_ip) through nginx: counted apart from the host, its spoofed X-Forwarded-For values shared one limit (429 at #$(grep -c . <<<"$out"))"
}
