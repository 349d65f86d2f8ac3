"""Local stand-ins for the services IssuePilot talks to: for tests, the demo and users' own tests."""
