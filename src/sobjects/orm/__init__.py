"""The ORM: sObject models, the unit-of-work session and typed queries."""
