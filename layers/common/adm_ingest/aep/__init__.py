"""Adobe Experience Platform: the pieces of the AEP batch destination (#12)."""
