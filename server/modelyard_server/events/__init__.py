"""The event hub: wakes streams after commit, fans out, heartbeats; and webhook deliveries."""
