module github.com/wsplug/wsplug

go 1.25.0

require (
	github.com/google/uuid v1.6.0
	gopkg.in/yaml.v3 v3.0.1
)
