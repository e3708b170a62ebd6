"""What a Grafana + Prometheus stack is given: PromQL, dashboards, alert rules and the files that provision them."""
