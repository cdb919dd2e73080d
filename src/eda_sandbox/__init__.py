"""eda-sandbox: an offline AWS sandbox and test harness for event-driven systems."""
