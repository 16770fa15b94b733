"""Server secrets: generate fresh ones, audit deployment files, check the live apiserver."""
