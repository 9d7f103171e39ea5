// Package cades makes and checks detached CAdES baseline signatures (.p7s):
// a CMS SignedData over the SHA-256 of any content, which is streamed and
// never held in memory. B-B by default, B-T with a cms.Timestamper.
package cades
