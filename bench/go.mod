module github.com/signagent/signagent/bench

go 1.26.0

require (
	github.com/digitorus/pdf v0.2.0
	github.com/digitorus/pdfsign v1.0.0-rc1
	github.com/signagent/signagent v0.0.0
)

require (
	github.com/digitorus/pkcs7 v0.0.0-20250730155240-ffadbf3f398c // indirect
	github.com/digitorus/timestamp v0.0.0-20250524132541-c45532741eea // indirect
	github.com/mattetti/filebuffer v1.0.1 // indirect
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/text v0.40.0 // indirect
)

replace github.com/signagent/signagent => ../
