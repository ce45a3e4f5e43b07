"""dtq's autoscaling operator: sizes worker Deployments by queue backlog (see docs/operator.md).

`reconcile` decides (pure), `autoscaler` observes and applies, `handlers` is the kopf layer,
`main.run()` is what `dtq operator` calls.
"""
