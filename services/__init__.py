"""The services: what the app does (start, resend, withdraw; reconcile with Temporal), as plain
functions of ids and values, used by the web views, the worker's activities and tests."""
