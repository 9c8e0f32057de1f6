"""Offline synthesis: run the stack programs under Pulumi's mock engine and write plain manifests."""
