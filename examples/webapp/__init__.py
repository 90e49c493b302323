"""A FastAPI app over Salesforce contacts, with a unit of work per request."""
