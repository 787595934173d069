{{/* The certificate Job's pod template, shared by the one-shot Job and the CronJob. */}}
{{- define "spot-failover.certgenPod" -}}
metadata:
  labels:
    app.kubernetes.io/name: spot-failover-webhook-certgen
    app.kubernetes.io/part-of: spot-failover
spec:
  serviceAccountName: spot-failover-webhook-certgen
  restartPolicy: OnFailure
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: certgen
      image: {{ include "spot-failover.webhookImage" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["bootstrap-certs"]
      env:
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
      resources:
        requests:
          cpu: 50m
          memory: 64Mi
        limits:
          memory: 128Mi
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
{{- end -}}
