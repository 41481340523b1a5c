"""Upper bounds on numbers from outside, so that no input can overflow a 64-bit column.

A request past these gets a 422 naming the field, instead of an error from PostgreSQL.
"""

MAX_ID = 2**63 - 1
MAX_UNIT_PRICE = 10**13  # minor units: 100 billion roubles or dollars for one unit
MAX_CART_TOTAL = 10**15  # minor units for one cart or order
MAX_POINTS = 10**12
