"""Running Porchlight: probes, metrics, outage answers, request ids and logs, headers, the lean path.

It sits on top with the project (``porchlight/``): it may import the apps, and no app imports it.
What the apps report reaches it through Django's signals.
"""
