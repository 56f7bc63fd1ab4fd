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
{{- end }}
