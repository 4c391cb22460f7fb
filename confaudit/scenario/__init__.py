"""Scripted capture (`confaudit run`): scenario files, the browsers that play them through the capture proxy,
and the events they record. docs/scenarios.md."""
