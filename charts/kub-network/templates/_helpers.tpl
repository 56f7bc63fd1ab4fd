{{/* Labels of every object of one service: `kub-network.labels (list "auth" "auth-api")`. */}}
{{- define "kub-network.labels" -}}
app.kubernetes.io/name: {{ index . 0 }}
app.kubernetes.io/component: {{ index . 1 }}
app.kubernetes.io/part-of: kub-network
{{- end }}

{{/* What Services, Deployments and NetworkPolicies select on. */}}
{{- define "kub-network.selector" -}}
app.kubernetes.io/name: {{ . }}
app.kubernetes.io/part-of: kub-network
{{- end }}

{{/* The checkov skips every Deployment carries, each with its reason. */}}
{{- define "kub-network.imageSkips" -}}
checkov.io/skip1: CKV_K8S_14=Images are built locally into minikube (minikube image build) and tagged latest; no registry to pin.
checkov.io/skip2: CKV_K8S_43=Images are built locally into minikube and have no registry digest to pin.
checkov.io/skip3: CKV_K8S_15=IfNotPresent is required so the image built into minikube is used; Always would pull from a registry and fail.
{{- end }}

{{- define "kub-network.namespaceSkip" -}}
CKV_K8S_21=The lesson runs in namespace default on purpose (AUTH_ADDRESS auth-service.default names it).
{{- end }}

{{/* The Prometheus scrape hints of a Pod: its GET /metrics on metrics.port. */}}
{{- define "kub-network.scrape" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.metrics.port | quote }}
prometheus.io/path: /metrics
{{- end }}

{{/* The container port of GET /metrics, named `metrics`. */}}
{{- define "kub-network.metricsPort" -}}
- name: metrics
  containerPort: {{ .Values.metrics.port }}
  protocol: TCP
{{- end }}

{{/* METRICS_PORT; with `true`, NETWORK_ROUTE too (users and tasks serve GET /network):
`kub-network.operationsEnv (list $ true)`. */}}
{{- define "kub-network.operationsEnv" -}}
{{- $ := index . 0 -}}
- name: METRICS_PORT
  value: {{ $.Values.metrics.port | quote }}
{{- if index . 1 }}
- name: NETWORK_ROUTE
  value: {{ $.Values.network.exposeRoute | quote }}
{{- end }}
{{- end }}

{{/* The Pods that call auth and the database, users and tasks: a LabelSelector. */}}
{{- define "kub-network.callersSelector" -}}
matchExpressions:
  - key: app.kubernetes.io/name
    operator: In
    values:
      - users
      - tasks
  - key: app.kubernetes.io/part-of
    operator: In
    values:
      - kub-network
{{- end }}

{{/* The NetworkPolicy rule admitting GET /metrics from the scrapers only. */}}
{{- define "kub-network.metricsIngress" -}}
- from:
    {{- toYaml .Values.metrics.scrapers | nindent 4 }}
  ports:
    - protocol: TCP
      port: {{ .Values.metrics.port }}
{{- end }}

{{/* A variable from a key of a Secret: `kub-network.secretEnv (list "NAME" "secret" "key" optional)`. */}}
{{- define "kub-network.secretEnv" -}}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ index . 1 }}
      key: {{ index . 2 }}
      {{- if index . 3 }}
      optional: true
      {{- end }}
{{- end }}

{{/* What auth-api reads of one caller's Secret: `kub-network.callerKeysEnv (list "USERS" .Values.callerKeys.users)`. */}}
{{- define "kub-network.callerKeysEnv" -}}
{{- $secret := index . 1 -}}
{{ include "kub-network.secretEnv" (list (printf "%s_API_KEY" (index . 0)) $secret.name $secret.key false) }}
{{ include "kub-network.secretEnv" (list (printf "%s_API_KEY_PREVIOUS" (index . 0)) $secret.name $secret.previousKey true) }}
{{- end }}

{{- define "kub-network.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "kub-network.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* PORT and SHUTDOWN_DELAY: `kub-network.serveEnv (list $ "8000")`. */}}
{{- define "kub-network.serveEnv" -}}
- name: PORT
  value: {{ index . 1 | quote }}
- name: SHUTDOWN_DELAY
  value: {{ (index . 0).Values.shutdownDelay | quote }}
{{- end }}

{{/* The Pod's identity from the downward API, shown by GET /network. */}}
{{- define "kub-network.podIdentityEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- end }}

{{/* Liveness and readiness on a named port: `kub-network.probes "http"`. */}}
{{- define "kub-network.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ . }}
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ . }}
  periodSeconds: 5
  failureThreshold: 2
{{- end }}

{{- define "kub-network.image" -}}
{{ .repository }}:{{ .tag }}
{{- end }}

{{/* Labels and selector of the database's objects. */}}
{{- define "kub-network.postgresLabels" -}}
{{ include "kub-network.labels" (list "postgres" "database") }}
{{- end }}

{{/* A service's database password from its Secret key, then DATABASE_URL as the service's own
role (users_api, tasks_api: postgres-init makes them), which refers to it as $(USERS_DB_PASSWORD):
the kubelet expands only variables defined earlier in the list. `kub-network.databaseEnv (list . "users")`. */}}
{{- define "kub-network.databaseEnv" -}}
{{- $root := index . 0 -}}
{{- $service := index . 1 -}}
{{- $var := printf "%s_DB_PASSWORD" (upper $service) -}}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.postgres.secret.name }}
      key: {{ index $root.Values.postgres.secret (printf "%sKey" $service) }}
- name: DATABASE_URL
  value: {{ printf "postgres://%s_api:$(%s)@postgres-service.%s:5432/%s" $service $var $root.Release.Namespace $root.Values.postgres.database }}
{{- end }}

{{/* The checkov skip of a service that reads DATABASE_URL: `kub-network.databaseSkip "users-api"`. */}}
{{- define "kub-network.databaseSkip" -}}
CKV_K8S_35={{ . }} reads DATABASE_URL only from its environment; the password in it is expanded from {{ printf "%s_DB_PASSWORD" (upper (trimSuffix "-api" .)) }}, which comes from a Secret via secretKeyRef, never a literal.
{{- end }}

{{/* More than one replica of a service with a store needs the database. */}}
{{- define "kub-network.checkReplicas" -}}
{{- $service := index . 1 -}}
{{- $values := index (index . 0).Values $service -}}
{{- if and (gt (int $values.replicas) 1) (not (index . 0).Values.postgres.enabled) -}}
{{- fail (printf "%s.replicas=%v needs postgres.enabled=true: each replica would keep its own %s on its own emptyDir" $service $values.replicas $service) -}}
{{- end -}}
{{- if and $values.autoscaling.enabled (not (index . 0).Values.postgres.enabled) -}}
{{- fail (printf "%s.autoscaling.enabled needs postgres.enabled=true: each replica would keep its own %s on its own emptyDir" $service $service) -}}
{{- end -}}
{{- end }}

{{/* The edge in front, "gateway", "ingress" or "" (the public Services are the way in). */}}
{{- define "kub-network.edge" -}}
{{- if and .Values.gateway.enabled .Values.ingress.enabled -}}
{{- fail "gateway.enabled and ingress.enabled: choose one edge" -}}
{{- else if .Values.gateway.enabled -}}gateway
{{- else if .Values.ingress.enabled -}}ingress
{{- end -}}
{{- end }}

{{/* A public Service's type: ClusterIP behind an edge. `kub-network.serviceType (list $ "users")`. */}}
{{- define "kub-network.serviceType" -}}
{{- $ := index . 0 -}}
{{- if include "kub-network.edge" $ }}ClusterIP{{ else }}{{ (index $.Values (index . 1)).serviceType }}{{ end -}}
{{- end }}

{{/* The NetworkPolicy rule of a public port: from anywhere, or behind an edge from its Pods only
(and the frontend's, with `true`). `kub-network.publicIngress (list $ 8080 true)`. */}}
{{- define "kub-network.publicIngress" -}}
{{- $ := index . 0 -}}
{{- $edge := include "kub-network.edge" $ -}}
{{- if $edge }}
- from:
    {{- toYaml (index $.Values $edge).peers | nindent 4 }}
    {{- if and (index . 2) $.Values.frontend.enabled }}
    - podSelector:
        matchLabels:
          {{- include "kub-network.selector" "frontend" | nindent 10 }}
    {{- end }}
  ports:
    - protocol: TCP
      port: {{ index . 1 }}
{{- else }}
- ports:
    - protocol: TCP
      port: {{ index . 1 }}
{{- end }}
{{- end }}

{{/* users-api's TRUSTED_PROXIES: the edge's Pods, then the frontend's (the headless
frontend-pods); empty when neither is there. */}}
{{- define "kub-network.trustedProxies" -}}
{{- $proxies := list -}}
{{- with include "kub-network.edge" . -}}
{{- range (index $.Values .).trustedProxies -}}
{{- $proxies = append $proxies (tpl . $) -}}
{{- end -}}
{{- end -}}
{{- if .Values.frontend.enabled -}}
{{- $proxies = append $proxies (printf "frontend-pods.%s.svc.cluster.local" .Release.Namespace) -}}
{{- end -}}
{{- join "," $proxies -}}
{{- end }}

{{/* spec.replicas of users or tasks, none when its HorizontalPodAutoscaler sets them.
`kub-network.replicas (list $ "users")`. */}}
{{- define "kub-network.replicas" -}}
{{- $values := index (index . 0).Values (index . 1) -}}
{{- if not $values.autoscaling.enabled -}}
replicas: {{ $values.replicas }}
{{- end }}
{{- end }}

{{/* A service's replicas in words, for NOTES.txt: `kub-network.replicaCount .Values.users`. */}}
{{- define "kub-network.replicaCount" -}}
{{- if .autoscaling.enabled -}}
{{ .autoscaling.minReplicas }} to {{ .autoscaling.maxReplicas }} replicas, autoscaled
{{- else -}}
{{ .replicas }} {{ eq (int .replicas) 1 | ternary "replica" "replicas" }}
{{- end -}}
{{- end }}

{{/* A listener's name: http and https for the first host, http-1, https-1, ... for the next ones. */}}
{{- define "kub-network.listener" -}}
{{ index . 0 }}{{ if index . 1 }}-{{ index . 1 }}{{ end }}
{{- end }}

{{/* An HTTPRoute's parents: the Gateway's listeners of one protocol, one per host.
`kub-network.parentRefs (list $ "https")`. */}}
{{- define "kub-network.parentRefs" -}}
{{- $protocol := index . 1 -}}
{{- range $index, $_ := (index . 0).Values.gateway.hosts }}
- name: kub-network-gateway
  sectionName: {{ include "kub-network.listener" (list $protocol $index) }}
{{- end }}
{{- end }}

{{/* The filter that sets HSTS. */}}
{{- define "kub-network.hsts" -}}
- type: ResponseHeaderModifier
  responseHeaderModifier:
    set:
      - name: Strict-Transport-Security
        value: {{ .Values.gateway.hsts }}
{{- end }}

{{/* One exact path of an HTTPRoute to a Service's port, "/path" or "/public:/own" (rewritten to
the service's own path). `kub-network.routeRule (list $ "/api/users/login:/login" "users-service" 8080)`. */}}
{{- define "kub-network.routeRule" -}}
{{- $paths := splitList ":" (index . 1) -}}
- matches:
    - path:
        type: Exact
        value: {{ first $paths }}
  filters:
    {{- include "kub-network.hsts" (index . 0) | nindent 4 }}
    {{- if gt (len $paths) 1 }}
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplaceFullPath
          replaceFullPath: {{ last $paths }}
    {{- end }}
  backendRefs:
    - name: {{ index . 2 }}
      port: {{ index . 3 }}
{{- end }}
