// Package tlscert makes the coordinator's self-signed certificate and lets
// agents pin it by fingerprint, for deployments without a certificate
// authority: the coordinator prints the fingerprint, agents take it with
// --pin and accept no other certificate. The certificate is kept on disk
// (LoadOrCreate), so a restart does not break the pins.
package tlscert
