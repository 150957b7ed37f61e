"""Writers of project data: flat tables now; training formats (SFT, DPO, splits) build on them."""
