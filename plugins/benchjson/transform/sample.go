package transform

// Sample is a message of about 1 KiB, shaped like a ComfyUI status
// update, for benchmarks of Apply natively and in the plugin to share.
var Sample = []byte(`{"type":"executing","text":"rendering a lighthouse at dusk, ` +
	`oil on canvas, warm light","client_id":"01HF7YAT00A4D2C1G8F0RV3KQZ",` +
	`"prompt_id":"6b2e1c4a-3f1d-4c9e-9b7a-2d5e8f0a1c3b","node":"KSampler",` +
	`"progress":{"value":12,"max":30,"eta_ms":5400},"seed":421337004213370,` +
	`"cfg":7.5,"sampler":"dpmpp_2m","scheduler":"karras","denoise":1.0,` +
	`"size":{"width":1024,"height":768},"batch":1,"queue":{"pending":3,"running":1},` +
	`"models":["sd_xl_base_1.0.safetensors","sd_xl_refiner_1.0.safetensors"],` +
	`"loras":[{"name":"film_grain","weight":0.35},{"name":"soft_light","weight":0.6}],` +
	`"tags":["landscape","sea","evening","painting","lighthouse","clouds"],` +
	`"system":{"cpu":23.5,"ram_used":12884901888,"ram_total":34359738368,` +
	`"gpus":[{"name":"RTX 4090","vram_used":15032385536,"vram_total":25757220864,` +
	`"temp":64,"util":97}]},"timestamps":{"queued":1733241600123,` +
	`"started":1733241601456,"updated":1733241606789},"warnings":[],` +
	`"note":"the \"text\" field is upper-cased by the transform; unicode stays: été"}`)
