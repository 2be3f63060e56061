"""Every side effect of a connection request: email, Amazon, the database."""
