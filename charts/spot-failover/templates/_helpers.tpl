{{/*
Labels of every object the chart renders (metadata only, never selectors): the one
deploy/ gives (app.kubernetes.io/part-of) and Helm's usual ones.
*/}}
{{- define "spot-failover.labels" -}}
app.kubernetes.io/part-of: spot-failover
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* An image reference from {repository, tag, digest}; the tag defaults to appVersion. */}}
{{- define "spot-failover.imageRef" -}}
{{- $image := index . 0 -}}
{{- $root := index . 1 -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "spot-failover.webhookImage" -}}
{{- include "spot-failover.imageRef" (list .Values.image .) -}}
{{- end -}}

{{- define "spot-failover.sidecarImage" -}}
{{- include "spot-failover.imageRef" (list .Values.sidecar.image .) -}}
{{- end -}}

{{/* Never injected: the configured namespaces and the release's own, in this order. */}}
{{- define "spot-failover.excludedNamespaces" -}}
{{- $namespaces := list -}}
{{- range (.Values.webhook.settings.excluded_namespaces | default list) -}}
{{- $namespaces = append $namespaces . -}}
{{- end -}}
{{- $namespaces = append $namespaces .Release.Namespace | uniq -}}
{{- toJson $namespaces -}}
{{- end -}}

{{/*
A setting's value as its environment variable holds it: booleans as true/false, lists joined
with ",", maps as key=value pairs joined with "," (sorted), whole numbers without a decimal
point or an exponent.
*/}}
{{- define "spot-failover.envValue" -}}
{{- $v := . -}}
{{- if kindIs "bool" $v -}}
{{- ternary "true" "false" $v -}}
{{- else if kindIs "slice" $v -}}
{{- join "," $v -}}
{{- else if kindIs "map" $v -}}
{{- $pairs := list -}}
{{- range $key := keys $v | sortAlpha -}}
{{- $pairs = append $pairs (printf "%s=%v" $key (index $v $key)) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- else if kindIs "float64" $v -}}
{{- if eq $v (floor $v) -}}{{- int64 $v -}}{{- else -}}{{- $v -}}{{- end -}}
{{- else -}}
{{- toString $v -}}
{{- end -}}
{{- end -}}

{{/* The sidecar's environment (SPOT_FAILOVER_*), as the JSON object the webhook injects. */}}
{{- define "spot-failover.sidecarEnv" -}}
{{- $env := dict -}}
{{- range $field, $value := .Values.sidecar.settings -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $_ := set $env (printf "SPOT_FAILOVER_%s" (upper $field)) (include "spot-failover.envValue" $value) -}}
{{- end -}}
{{- end -}}
{{- range $name, $value := .Values.sidecar.extraEnv -}}
{{- if eq $name "SPOT_FAILOVER_FARGATE_LABELS" -}}
{{- fail "sidecar.extraEnv.SPOT_FAILOVER_FARGATE_LABELS: set it with sidecar.settings.fargate_labels instead, whose keys the admission policy spot-failover-sidecar-scope must know" -}}
{{- end -}}
{{- if hasKey $env $name -}}
{{- fail (printf "sidecar.extraEnv.%s: set it with sidecar.settings.%s instead" $name (lower (trimPrefix "SPOT_FAILOVER_" $name))) -}}
{{- end -}}
{{- $_ := set $env $name (toString $value) -}}
{{- end -}}
{{- toJson $env -}}
{{- end -}}

{{/*
The webhook provisions the sidecars' RBAC unless webhook.settings.manage_rbac is false; then
its ClusterRole holds no write access but Events.
*/}}
{{- define "spot-failover.manageRbac" -}}
{{- if eq (toString .Values.webhook.settings.manage_rbac) "false" -}}false{{- else -}}true{{- end -}}
{{- end -}}

{{/*
Template label keys a sidecar may change besides spot-failover/* and the Fargate profile
label: the install-wide Fargate labels (sidecar.settings.fargate_labels), as a CEL list.
*/}}
{{- define "spot-failover.extraFargateLabelKeys" -}}
{{- $keys := list -}}
{{- range $key, $_ := (.Values.sidecar.settings.fargate_labels | default dict) -}}
{{- if not (hasPrefix "spot-failover/" $key) -}}
{{- $keys = append $keys (printf "'%s'" $key) -}}
{{- end -}}
{{- end -}}
{{- printf "[%s]" (join ", " (sortAlpha $keys)) -}}
{{- end -}}

{{- define "spot-failover.checkValues" -}}
{{- $modes := list "certgen" "cert-manager" "provided" -}}
{{- if not (has .Values.certificates.mode $modes) -}}
{{- fail (printf "certificates.mode must be one of %s, not %q" (join ", " $modes) .Values.certificates.mode) -}}
{{- end -}}
{{- if and (eq .Values.certificates.mode "provided") (not .Values.certificates.caBundle) -}}
{{- fail "certificates.mode=provided needs certificates.caBundle: the CA of the serving certificate (PEM, base64)" -}}
{{- end -}}
{{- if and .Values.certificates.caBundle (ne .Values.certificates.mode "provided") -}}
{{- fail "certificates.caBundle is for certificates.mode=provided; the other modes write the caBundle themselves" -}}
{{- end -}}
{{- end -}}
