"""The synthetic eps-players, one definition for every stage that plays, rates or values them."""
