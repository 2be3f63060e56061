"""The domain core: models and the database session, crypto, the Amazon client and email
composition. No views, no blueprints: the web app and the worker each build on `core.app`."""
