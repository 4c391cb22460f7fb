"""Pure formatters of a rules-engine run: SARIF 2.1.0, JUnit XML, Markdown and JSON."""
