"""The one exception type for problems a user can fix (bad input, missing data).

The CLI turns it into one line on stderr and exit status 2; everything else is a bug and keeps
its traceback.
"""


class UserError(ValueError):
    """Bad input or missing data; the message names what is wrong and how to fix it."""
