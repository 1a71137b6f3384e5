"""`driftline status`: what is read, how it is modelled, how it is printed."""
