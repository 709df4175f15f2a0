"""Notifications API: the user's notifications, marking one read, the merchant's webhooks."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from cases.api.serializers import local_time
from cases.labels import EVENT_LABELS
from notifications import policies, selectors, services
from odr.errors import Forbidden


class NotificationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    title = serializers.SerializerMethodField()
    case = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    created_at_local = serializers.SerializerMethodField()
    read_at = serializers.DateTimeField(allow_null=True)
    #: An operator's risk alert (``GET /api/v1/alerts/``), when the notice is one.
    alert = serializers.IntegerField(source="alert_id", allow_null=True)

    def get_title(self, n) -> str:
        return str(EVENT_LABELS.get(n.type, n.type))

    def get_case(self, n) -> dict | None:
        return services.subject_of(n)

    def get_created_at_local(self, n) -> str:
        return local_time(n.created_at, self.context["request"].user)


class NotificationListApi(generics.ListAPIView):
    serializer_class = NotificationOutput
    throttle_classes = [UserRateThrottle]

    @extend_schema(tags=["notifications"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.notification_list_for(self.request.user)


class NotificationReadApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(request=None, responses={200: NotificationOutput}, tags=["notifications"])
    def post(self, request, notification_id):
        notification = services.notification_mark_read(user=request.user, notification_id=notification_id)
        return Response(NotificationOutput(notification, context={"request": request}).data)


def event_types() -> list[str]:
    """The event types a webhook may subscribe to: every lifecycle action and the platform's own events."""
    from cases.models import ACTIONS

    return [*ACTIONS, "deadline_fired", "reminder", "evidence_added"]


class WebhookInput(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=event_types()), required=False, default=list, max_length=50
    )
    secret = serializers.CharField(min_length=16, max_length=128, required=False)


class WebhookOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class WebhookCreatedOutput(WebhookOutput):
    secret = serializers.CharField(source="signing_secret")  # shown once, at creation


class WebhookListCreateApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={200: WebhookOutput(many=True)}, tags=["notifications"])
    def get(self, request):
        if not policies.can_manage_webhooks(request.user):
            raise Forbidden()
        return Response({"results": WebhookOutput(selectors.webhook_list_for(request.user), many=True).data,
                         "next": None, "previous": None})  # fmt: skip

    @extend_schema(request=WebhookInput, responses={201: WebhookCreatedOutput}, tags=["notifications"])
    def post(self, request):
        if not policies.can_manage_webhooks(request.user):
            raise Forbidden()
        data = WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_create(user=request.user, **data.validated_data)
        return Response(WebhookCreatedOutput(endpoint).data, status=status.HTTP_201_CREATED)
