{{/* Names ------------------------------------------------------------------------------- */}}

{{- define "dtq.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object name; 63 characters at most, leaving room for "-scheduler". */}}
{{- define "dtq.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dtq.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels: call with (dict "root" $ "component" "api"). */}}
{{- define "dtq.labels" -}}
helm.sh/chart: {{ include "dtq.chart" .root }}
{{ include "dtq.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: dtq
{{- end }}

{{/* Selector labels never change after install (Deployment selectors are immutable). */}}
{{- define "dtq.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dtq.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{- define "dtq.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dtq.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dtq.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (printf "%s-operator" (include "dtq.fullname" .)) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dtq.worker.deploymentName" -}}
{{- printf "%s-worker" (include "dtq.fullname" .) }}
{{- end }}

{{/* Images ------------------------------------------------------------------------------ */}}

{{/* Call with (dict "image" .Values.image "default" .Chart.AppVersion). */}}
{{- define "dtq.imageRef" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .default .image.tag | toString) }}
{{- end }}
{{- end }}

{{- define "dtq.image" -}}
{{- include "dtq.imageRef" (dict "image" .Values.image "default" .Chart.AppVersion) }}
{{- end }}

{{/* A number as a plain string: Helm reads YAML numbers as floats, which print as 1e+06. */}}
{{- define "dtq.string" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* Redis -------------------------------------------------------------------------------- */}}

{{/* The one place the Redis URL is computed. Credentials never go in it (DTQ_REDIS_PASSWORD). */}}
{{- define "dtq.redis.url" -}}
{{- $ext := .Values.externalRedis }}
{{- $tls := ternary "rediss" "redis" $ext.tls }}
{{- if .Values.redis.enabled }}
{{- printf "redis://%s-redis:6379/0" (include "dtq.fullname" .) }}
{{- else if $ext.url }}
{{- $ext.url }}
{{- else if eq $ext.mode "cluster" }}
{{- if not $ext.nodes }}{{ fail "externalRedis.mode cluster needs externalRedis.nodes (host:port of any cluster nodes)" }}{{ end }}
{{- printf "%s+cluster://%s" $tls (join "," $ext.nodes) }}
{{- else if eq $ext.mode "sentinel" }}
{{- if or (not $ext.nodes) (not $ext.sentinel.masterName) }}{{ fail "externalRedis.mode sentinel needs externalRedis.nodes (the sentinels) and externalRedis.sentinel.masterName" }}{{ end }}
{{- printf "%s+sentinel://%s/%s/%s" $tls (join "," $ext.nodes) $ext.sentinel.masterName (include "dtq.string" $ext.db) }}
{{- else if $ext.host }}
{{- printf "%s://%s:%s/%s" $tls $ext.host (include "dtq.string" $ext.port) (include "dtq.string" $ext.db) }}
{{- else }}
{{- fail "redis.enabled is false: set externalRedis.url or externalRedis.host (or mode cluster/sentinel with nodes)" }}
{{- end }}
{{- end }}

{{/* TCP ports dtq pods reach Redis on, as a JSON list: the servers' port, and every port in the
     URL or in nodes (cluster seeds, sentinels). */}}
{{- define "dtq.redis.egressPorts" -}}
{{- $ports := list (int .Values.externalRedis.port) }}
{{- $url := include "dtq.redis.url" . }}
{{- range regexFindAll ":[0-9]+" (regexReplaceAll "^[a-z+]+://" $url "") -1 }}
{{- $ports = append $ports (int (trimPrefix ":" .)) }}
{{- end }}
{{- $ports | uniq | toJson }}
{{- end }}

{{/* Secret and key holding the Redis password; empty when there is none (external, no auth). */}}
{{- define "dtq.redis.passwordSecret" -}}
{{- if .Values.redis.enabled }}
{{- default (printf "%s-redis" (include "dtq.fullname" .)) .Values.redis.auth.existingSecret }}
{{- else if .Values.externalRedis.existingSecret }}
{{- .Values.externalRedis.existingSecret }}
{{- else if .Values.externalRedis.password }}
{{- printf "%s-external-redis" (include "dtq.fullname" .) }}
{{- end }}
{{- end }}

{{- define "dtq.redis.passwordKey" -}}
{{- if and .Values.redis.enabled .Values.redis.auth.existingSecret }}
{{- .Values.redis.auth.existingSecretPasswordKey }}
{{- else if and (not .Values.redis.enabled) .Values.externalRedis.existingSecret }}
{{- .Values.externalRedis.existingSecretPasswordKey }}
{{- else }}
{{- print "redis-password" }}
{{- end }}
{{- end }}

{{/* Secret and key holding the sentinels' own password; empty when they need none. */}}
{{- define "dtq.redis.sentinelPasswordSecret" -}}
{{- $sentinel := .Values.externalRedis.sentinel }}
{{- if .Values.redis.enabled }}
{{- else if $sentinel.existingSecret }}
{{- $sentinel.existingSecret }}
{{- else if $sentinel.password }}
{{- printf "%s-external-redis" (include "dtq.fullname" .) }}
{{- end }}
{{- end }}

{{- define "dtq.redis.sentinelPasswordKey" -}}
{{- ternary .Values.externalRedis.sentinel.existingSecretPasswordKey "sentinel-password" (not (empty .Values.externalRedis.sentinel.existingSecret)) }}
{{- end }}

{{/* Pods ---------------------------------------------------------------------------------- */}}

{{/* A dtq container's env and envFrom: call with (dict "root" $ "own" <list of env entries>
     "extra" <the component's extraEnv>). Everything else comes from the ConfigMap. */}}
{{- define "dtq.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "dtq.fullname" .root }}-config
{{- $items := concat (default list .own) }}
{{- with include "dtq.redis.passwordSecret" .root }}
{{- $ref := dict "name" . "key" (include "dtq.redis.passwordKey" $.root) }}
{{- $items = append $items (dict "name" "DTQ_REDIS_PASSWORD" "valueFrom" (dict "secretKeyRef" $ref)) }}
{{- end }}
{{- with include "dtq.redis.sentinelPasswordSecret" .root }}
{{- $ref := dict "name" . "key" (include "dtq.redis.sentinelPasswordKey" $.root) }}
{{- $items = append $items (dict "name" "DTQ_REDIS_SENTINEL_PASSWORD" "valueFrom" (dict "secretKeyRef" $ref)) }}
{{- end }}
{{- $items = concat $items (default list .extra) }}
{{- with $items }}
env:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod annotations that roll the pods when the settings change. */}}
{{- define "dtq.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end }}

{{/* Scheduling knobs shared by every component: call with the component's values block. */}}
{{- define "dtq.podPlacement" -}}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The pod-level part every dtq pod shares (not the operator's token setting). */}}
{{- define "dtq.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* A probe's timing fields from values (the handler is written by the caller). */}}
{{- define "dtq.probeTiming" -}}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
successThreshold: {{ .successThreshold }}
{{- end }}

{{/* A PodDisruptionBudget: call with (dict "root" $ "component" "api" "pdb" .Values.api.pdb). */}}
{{- define "dtq.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "dtq.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "dtq.labels" . | nindent 4 }}
spec:
  {{- if .pdb.minAvailable }}
  minAvailable: {{ .pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ default 1 .pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "dtq.selectorLabels" . | nindent 6 }}
{{- end }}

{{/* API tokens: the Secret and key DTQ_API_TOKENS comes from; empty when there are no tokens. */}}
{{- define "dtq.api.tokensSecret" -}}
{{- if .Values.api.auth.existingSecret }}
{{- .Values.api.auth.existingSecret }}
{{- else if .Values.api.auth.tokens }}
{{- printf "%s-api-tokens" (include "dtq.fullname" .) }}
{{- end }}
{{- end }}

{{- define "dtq.api.tokensKey" -}}
{{- ternary .Values.api.auth.existingSecretKey "tokens" (not (empty .Values.api.auth.existingSecret)) }}
{{- end }}
