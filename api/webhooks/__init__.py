"""Webhook subscriptions: warnings pushed to an integration's URL, signed, retried, and
dead-lettered where the integration can read them back (docs/api.md, "Webhooks").

`store` keeps subscriptions and deliveries in Redis, `signing` the HMAC header,
`matching` the filter, `delivery` the service that fills and empties the outbox
(`loanwatch webhooks run`).
"""
