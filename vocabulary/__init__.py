"""The ground floor: the words every layer speaks. Statuses and outcomes (StrEnums), the messages
workflows and activities exchange (dataclasses holding ids, never secrets), their retry policies
and timeouts, and the search attributes ops query. Imports nothing of the app."""
