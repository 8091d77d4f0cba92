"""Domain packages: what the generic runtime does not know about one kind of input.

Each domain is a package behind `assistant.runtime.domain.Domain`, named by the bundles
trained for it (config.json's "domain") and loaded by `assistant.runtime.domain.load_domain`.
Nothing outside a domain package imports it by name.
"""
