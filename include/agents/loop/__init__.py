"""The agents' tool-using loop: look, edit, run, repeat, until the tests say done or a bound says stop."""
