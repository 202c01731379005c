# Sourced by scripts/bench, bench-cgi, bench-latency and startup-order: the typical review they all
# measure or replay, a controller-created pod of about 5 KB from the corpus vendored in this repository
# (Tests/fixtures/corpus/PROVENANCE.md). The end-to-end tests name it too (test_start.py, test_semantics.py).
TYPICAL_REVIEW=Tests/fixtures/corpus/admissionreview/salesforce-generic-sidecar-injector__v1-pod-create-replicaset-generatename.json
