{{/* Names and labels. */}}
{{- define "console.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "console.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "console.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "console.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "console.selectorLabels" -}}
app.kubernetes.io/name: {{ include "console.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component (web, worker, migrate): call with (list $ "web"). */}}
{{- define "console.componentLabels" -}}
{{ include "console.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "console.componentSelector" -}}
{{ include "console.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "console.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "console.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "console.secretName" -}}
{{- default (include "console.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "console.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The ConfigMap and the chart's Secret are read by the migration Job, which runs before the
release's own resources exist (pre-install); so with migrations on they are hooks themselves,
created first and replaced on each upgrade.
*/}}
{{- define "console.earlyHookAnnotations" -}}
{{- if .Values.migrations.enabled }}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: "-10"
helm.sh/hook-delete-policy: before-hook-creation
{{- end }}
{{- end }}

{{/* The non-secret settings, empty values left out; ALLOWED_HOSTS/CSRF_TRUSTED_ORIGINS derived. */}}
{{- define "console.configData" -}}
{{- $hosts := list }}
{{- if .Values.ingress.enabled }}
{{- range .Values.ingress.hosts }}{{ $hosts = append $hosts .host }}{{ end }}
{{- end }}
{{- $fullname := include "console.fullname" . }}
{{- $config := deepCopy .Values.config }}
{{- if not $config.ALLOWED_HOSTS }}
{{- if $hosts }}
{{- $_ := set $config "ALLOWED_HOSTS" (join "," $hosts) }}
{{- else }}
{{- $_ := set $config "ALLOWED_HOSTS" (printf "%s,%s.%s.svc,%s.%s.svc.cluster.local" $fullname $fullname .Release.Namespace $fullname .Release.Namespace) }}
{{- end }}
{{- end }}
{{- if and (not $config.CSRF_TRUSTED_ORIGINS) $hosts }}
{{- $origins := list }}
{{- range $hosts }}{{ $origins = append $origins (printf "https://%s" .) }}{{ end }}
{{- $_ := set $config "CSRF_TRUSTED_ORIGINS" (join "," $origins) }}
{{- end }}
{{- range $name, $value := $config }}
{{- if or (kindIs "bool" $value) (kindIs "float64" $value) (kindIs "int64" $value) $value }}
{{ $name }}: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Environment variables from the Secret: call with (dict "root" $ "keys" (list ...)). */}}
{{- define "console.secretEnv" -}}
{{- $secret := include "console.secretName" .root }}
{{- range .keys }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
      {{- if not (has . (list "SECRET_KEY" "DATABASE_URL")) }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}

{{/* env and envFrom of a console container: call with (dict "root" $ "keys" (list ...) "migrate" "true|false|only"). */}}
{{- define "console.containerEnv" -}}
envFrom:
  - configMapRef:
      name: {{ include "console.fullname" .root }}
  {{- with .root.Values.extraEnvFrom }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
env:
  - name: CONSOLE_MIGRATE
    value: {{ .migrate | quote }}
  {{- include "console.secretEnv" (dict "root" .root "keys" .keys) | trim | nindent 2 }}
  {{- with .root.Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{- define "console.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "console.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "console.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- end }}

{{- define "console.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}
