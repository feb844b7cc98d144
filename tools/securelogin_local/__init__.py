"""The local stack: template.yaml's API served on loopback, backed by an embedded AWS.

``python -m securelogin_local`` (``make run``) starts it; nothing here is deployed.
"""
