// Package sim is an emulator of the Sign'Stash service: the OAuth token
// endpoint, the Integration Service (SaaS) and the on-premise Proxy, serving
// the sync sign call, the operation look-ups and the proxy's asynchronous
// register / status / result calls.
//
// A Server is one instance with its own state, as a proxy instance behind a
// load balancer is: operations registered on one instance are unknown to the
// others, and every async answer carries the instance's advertised host and
// port. StartCluster runs several instances behind a round-robin balancer.
//
// Documents are streamed both ways: each base64Content of a request is decoded
// straight to a temporary file, and signed content is encoded straight from
// disk into the response, so memory stays flat whatever the request size.
// Signing is injected (Config.Sign); the signstash-sim command injects the
// project's local signer so the emulator returns real signatures.
//
// Faults (latency, 500s, 429s, connection resets, per-document errors, a
// fixed error code, instance restarts, inactive clients) can be set at start
// and changed at run time through SetFaults or the admin endpoint
// POST /sim/faults. See README.md beside this file.
package sim
