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

{{/*
The `higress` key of the gateway ConfigMap as Higress's chart builds it: higress-core.{upstream,downstream,
gzip} (each overridden key by key by the top-level key of the same name), and tracing when tracing.enable.
Returned as JSON.
*/}}
{{- define "oxigress.gatewayConfigValues" -}}
{{- $core := index .Values "higress-core" -}}
{{- $data := dict -}}
{{- range $key := list "upstream" "downstream" "gzip" "tracing" -}}
{{- $top := index $.Values $key | default dict -}}
{{- if or (hasKey $core $key) $top -}}
{{- $value := mergeOverwrite (deepCopy (index $core $key | default dict)) (deepCopy $top) -}}
{{- if or (ne $key "tracing") $value.enable -}}
{{- $_ := set $data $key $value -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $data -}}
{{- end -}}

{{/*
`over` merged onto `base`, recursively: every value of `over` wins, false and 0 included (sprig's `merge`,
which Higress uses, lets the base replace those). Call with (dict "base" B "over" O); returns JSON.
*/}}
{{- define "oxigress.deepMerge" -}}
{{- $out := deepCopy .base -}}
{{- range $key, $value := .over -}}
{{- $current := index $out $key -}}
{{- if and (kindIs "map" $value) (kindIs "map" $current) -}}
{{- $_ := set $out $key (include "oxigress.deepMerge" (dict "base" $current "over" $value) | fromJson) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
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
