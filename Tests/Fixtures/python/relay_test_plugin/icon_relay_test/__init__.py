"""The relay_test plugin: a small InsightConnect Python plugin that Relay's tests run as an external process."""
