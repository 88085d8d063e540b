"""Watchers: the first stage of the pipeline. Each fetches one kind of source and
returns ``bot.model.FetchResult`` with ``Item``s; they import nothing of ours but the model."""
