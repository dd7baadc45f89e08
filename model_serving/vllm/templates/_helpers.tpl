{{/* Chart name, shortened to fit a DNS label. */}}
{{- define "vllm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Object names: <release>-<chart>, or just the release name when it already contains the chart name.
As a dependency of the umbrella chart the release is the umbrella's, e.g. "ticketpilot-vllm".
*/}}
{{- define "vllm.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "vllm.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "vllm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vllm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vllm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "vllm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/component: inference
app.kubernetes.io/part-of: ticketpilot
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "vllm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vllm.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "vllm.modelCacheClaim" -}}
{{- default (printf "%s-model-cache" (include "vllm.fullname" .)) .Values.modelCache.persistence.existingClaim }}
{{- end }}

{{/* GPUs the model is sharded over; more than the replica has cannot be scheduled by vLLM. */}}
{{- define "vllm.tensorParallelSize" -}}
{{- $tp := int (default .Values.gpus .Values.model.tensorParallelSize) }}
{{- if gt $tp (int .Values.gpus) }}
{{- fail (printf "model.tensorParallelSize (%d) cannot exceed gpus (%d): each shard needs its own GPU" $tp (int .Values.gpus)) }}
{{- end }}
{{- $tp }}
{{- end }}

{{/* Checks what the schema cannot: the autoscaler's bounds against each other. */}}
{{- define "vllm.checkReplicaBounds" -}}
{{- if gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas) }}
{{- fail (printf "autoscaling.minReplicas (%d) exceeds autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- end }}

{{/*
The fleet's queue depth as one number for KEDA: waiting requests of this model in this namespace, summed
over replicas (KEDA divides by the replica count, as the HPA's AverageValue target does).
*/}}
{{- define "vllm.queueDepthQuery" -}}
{{- printf "sum(vllm:num_requests_waiting{namespace=%q,model_name=%q})" .Release.Namespace .Values.model.servedModelName }}
{{- end }}
