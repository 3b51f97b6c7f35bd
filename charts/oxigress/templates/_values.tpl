{{/*
Effective values. `higress-core.gateway` / `higress-core.controller` (Higress's paths, defaults in
charts/higress-core/values.yaml), overridden key by key by a top-level `gateway:` / `controller:`.
Returned as JSON: read with `include "oxigress.gatewayValues" . | fromJson`.
*/}}
{{- define "oxigress.gatewayValues" -}}
{{- $core := index .Values "higress-core" -}}
{{- toJson (mergeOverwrite (deepCopy $core.gateway) (deepCopy (.Values.gateway | default dict))) -}}
{{- end -}}

{{- define "oxigress.controllerValues" -}}
{{- $core := index .Values "higress-core" -}}
{{- toJson (mergeOverwrite (deepCopy $core.controller) (deepCopy (.Values.controller | default dict))) -}}
{{- end -}}

{{/* "true" when global.local (or its deprecated alias global.kind) is set. */}}
{{- define "oxigress.local" -}}
{{- if or .Values.global.local .Values.global.kind }}true{{ end -}}
{{- end -}}

{{/* The watched namespaces, comma-joined ("" = all): a string "a" or "a,b", or a list. */}}
{{- define "oxigress.watchNamespaces" -}}
{{- $value := .Values.global.watchNamespace -}}
{{- $items := list -}}
{{- if kindIs "slice" $value -}}
{{- $items = $value -}}
{{- else if $value -}}
{{- $items = splitList "," (toString $value) -}}
{{- end -}}
{{- $names := list -}}
{{- range $items -}}
{{- $name := trim (toString .) -}}
{{- if $name }}{{ $names = append $names $name }}{{ end -}}
{{- end -}}
{{- $names | uniq | join "," -}}
{{- end -}}

{{- define "oxigress.image" -}}
{{- $repository := .Values.image.repository | default (printf "%s/oxigress" .Values.global.hub) -}}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "oxigress.imagePullPolicy" -}}
{{- .Values.global.imagePullPolicy | default .Values.image.pullPolicy -}}
{{- end -}}

{{/*
Whether to render the IngressClass: a class name other than "" and nginx, not switched off, and either
absent from the cluster or already owned by this very release (so an upgrade keeps it). Offline
(`helm template`) lookup finds nothing.
*/}}
{{- define "oxigress.ownsIngressClass" -}}
{{- $class := .Values.global.ingressClass -}}
{{- if and $class (ne $class "nginx") .Values.ingressClassResource.enabled .Values.global.createIngressClass -}}
{{- $existing := lookup "networking.k8s.io/v1" "IngressClass" "" $class -}}
{{- if not $existing -}}
true
{{- else -}}
{{- $annotations := $existing.metadata.annotations | default dict -}}
{{- if and (eq (get $annotations "meta.helm.sh/release-name") .Release.Name) (eq (get $annotations "meta.helm.sh/release-namespace") .Release.Namespace) -}}
true
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
