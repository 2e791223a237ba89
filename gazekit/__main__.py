"""`python -m gazekit` runs the gazekit command."""

from gazekit.cli import main

if __name__ == "__main__":
    main()
