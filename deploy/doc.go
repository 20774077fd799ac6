// Package deploy holds no code, only checks of the deployment files at the
// repository root (docker-compose.yml, Dockerfile) run by go test.
package deploy
