"""The analyst review page (``distilsec review``): a local web app over a run's review queue and ledger."""
