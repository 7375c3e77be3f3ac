{{/* Names, labels, the image, and the pieces every Atelier pod shares. */}}

{{- define "atelier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "atelier.fullname" -}}
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

{{- define "atelier.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Kubernetes recommended labels. */}}
{{- define "atelier.labels" -}}
helm.sh/chart: {{ include "atelier.chart" . }}
{{ include "atelier.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: atelier
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "atelier.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atelier.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "atelier.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "atelier.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "atelier.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret names and keys. */}}
{{- define "atelier.secretsName" -}}
{{- default (printf "%s-secrets" (include "atelier.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "atelier.databaseSecretName" -}}
{{- if eq .Values.database.mode "bundled" }}
{{- printf "%s-postgresql" (include "atelier.fullname" .) }}
{{- else }}
{{- required "database.external.existingSecret is required: a Secret with database.url and database.owner_url (README, \"Managed PostgreSQL\")" .Values.database.external.existingSecret }}
{{- end }}
{{- end }}

{{- define "atelier.databaseUrlKey" -}}
{{- if eq .Values.database.mode "bundled" }}url{{ else }}{{ .Values.database.external.urlKey }}{{ end }}
{{- end }}

{{- define "atelier.databaseOwnerUrlKey" -}}
{{- if eq .Values.database.mode "bundled" }}owner-url{{ else }}{{ .Values.database.external.ownerUrlKey }}{{ end }}
{{- end }}

{{/*
Refuses value sets that would deploy something broken. Included by every workload template,
so `helm template` and `helm install` both stop with the message.
*/}}
{{- define "atelier.validate" -}}
{{- if eq .Values.storage.backend "local" }}
{{- if gt (int .Values.api.replicas) 1 }}
{{- fail "storage.backend=local keeps images in one pod's directory: set api.replicas to 1, or use storage.backend=s3 for more replicas" }}
{{- end }}
{{- else }}
{{- if not (and .Values.storage.s3.endpoint .Values.storage.s3.bucket) }}
{{- fail "storage.backend=s3 needs storage.s3.endpoint and storage.s3.bucket" }}
{{- end }}
{{- if not .Values.storage.s3.existingSecret }}
{{- fail "storage.backend=s3 needs storage.s3.existingSecret: a Secret with the access key id and secret access key" }}
{{- end }}
{{- end }}
{{- if and .Values.workers.enabled (not (or .Values.models.persistence.enabled .Values.models.extraVolume.enabled)) }}
{{- fail "workers read model files the API installs: enable models.persistence or models.extraVolume" }}
{{- end }}
{{- if and .Values.models.extraVolume.enabled (not .Values.models.extraVolume.volume) }}
{{- fail "models.extraVolume.enabled needs models.extraVolume.volume (a volume source such as nfs)" }}
{{- end }}
{{- $names := dict }}
{{- range .Values.workers.pools }}
{{- if hasKey $names .name }}
{{- fail (printf "workers.pools: the name %q is used twice" .name) }}
{{- end }}
{{- $_ := set $names .name true }}
{{- end }}
{{- end }}

{{/* Pod-level hardening: non-root, RuntimeDefault seccomp. */}}
{{- define "atelier.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level hardening: read-only root, no privilege escalation, no capabilities. */}}
{{- define "atelier.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
{{- end }}

{{/* The environment of every Atelier container but the migration Job's: config file, secrets. */}}
{{- define "atelier.env" -}}
- name: ATELIER_CONFIG
  value: /etc/atelier/atelier.toml
- name: ATELIER__DATABASE__URL
  valueFrom:
    secretKeyRef:
      name: {{ include "atelier.databaseSecretName" . }}
      key: {{ include "atelier.databaseUrlKey" . }}
- name: ATELIER__AUTH__JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "atelier.secretsName" . }}
      key: {{ .Values.secrets.jwtSecretKey }}
- name: ATELIER__S3__SEAL_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "atelier.secretsName" . }}
      key: {{ .Values.secrets.sealKeyKey }}
{{- if eq .Values.storage.backend "s3" }}
- name: ATELIER__STORAGE__S3__ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .Values.storage.s3.existingSecret }}
      key: {{ .Values.storage.s3.accessKeyIdKey }}
- name: ATELIER__STORAGE__S3__SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.storage.s3.existingSecret }}
      key: {{ .Values.storage.s3.secretAccessKeyKey }}
{{- end }}
{{- end }}

{{/* Volumes of every Atelier pod: config, the writable data directory, /tmp, models, objects. */}}
{{- define "atelier.volumes" -}}
- name: config
  configMap:
    name: {{ include "atelier.fullname" . }}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- if .Values.models.persistence.enabled }}
- name: models
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-models" (include "atelier.fullname" .)) .Values.models.persistence.existingClaim }}
{{- end }}
{{- if .Values.models.extraVolume.enabled }}
- name: models-extra
  {{- toYaml .Values.models.extraVolume.volume | nindent 2 }}
{{- end }}
{{- if eq .Values.storage.backend "local" }}
- name: objects
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-objects" (include "atelier.fullname" .)) .Values.storage.local.existingClaim }}
{{- end }}
{{- end }}

{{- define "atelier.volumeMounts" -}}
- name: config
  mountPath: /etc/atelier
  readOnly: true
- name: data
  mountPath: /var/lib/atelier
- name: tmp
  mountPath: /tmp
{{- if .Values.models.persistence.enabled }}
- name: models
  mountPath: /var/lib/atelier/models
{{- end }}
{{- if .Values.models.extraVolume.enabled }}
- name: models-extra
  mountPath: /models/extra
  readOnly: true
{{- end }}
{{- if eq .Values.storage.backend "local" }}
- name: objects
  mountPath: /var/lib/atelier/objects
{{- end }}
{{- end }}

{{/* Pod annotations: a checksum of the config so a change rolls the pods, and scrape hints. */}}
{{- define "atelier.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if and .Values.metrics.enabled .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.metrics.port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* The bundled PostgreSQL's own name label keeps it out of the Atelier pods' selectors. */}}
{{- define "atelier.postgresqlSelectorLabels" -}}
app.kubernetes.io/name: postgresql
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: database
{{- end }}
