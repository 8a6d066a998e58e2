"""calcformula's language server (pygls 2.x): `calcformula lsp` starts it over stdio."""
