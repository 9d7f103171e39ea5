// Package bench compares signagent's PAdES writer with its peers. It is a
// separate module so that peers (github.com/digitorus/pdfsign) never enter
// the product's dependencies.
//
//	go test -bench . -benchmem            per-document figures over the corpus
//	go test -bench . -benchmem -args -timeoutput
//	                                      the same, timing the output file's
//	                                      open (O_TRUNC) and close as well
//	./peer.sh                             pdfsig -add-signature, one process per file
package bench
