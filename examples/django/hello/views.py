import os

from django.db import DatabaseError
from django.shortcuts import render

from .models import Greeting


def index(request):
    return render(
        request,
        "index.html",
        {"dyno": os.environ.get("DYNO", "?"), "release": os.environ.get("PAAS_RELEASE", "?")},
    )


def db(request):
    """Needs the tables `release: python manage.py migrate` makes."""
    try:
        Greeting.objects.create()
        greetings = list(Greeting.objects.order_by("-when")[:10])
    except DatabaseError as e:
        return render(request, "db.html", {"error": e}, status=500)
    return render(request, "db.html", {"greetings": greetings})
