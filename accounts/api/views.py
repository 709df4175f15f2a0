"""Accounts API: registration, tokens, the profile, the merchant directory, neutral accounts."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from accounts import policies, selectors, services
from odr.errors import Forbidden
from odr.pagination import CursorPagination

from .serializers import (
    MerchantOutput,
    NeutralCreateInput,
    RegisterInput,
    TokenInput,
    TokenOutput,
    UserOutput,
)


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AnonRateThrottle]

    @extend_schema(request=RegisterInput, responses={201: UserOutput}, tags=["accounts"])
    def post(self, request):
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AnonRateThrottle]

    @extend_schema(request=TokenInput, responses={200: TokenOutput}, tags=["accounts"])
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = services.token_issue(request=request._request, **data.validated_data)
        return Response({"token": key})


class MeApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={200: UserOutput}, tags=["accounts"])
    def get(self, request):
        return Response(UserOutput(request.user).data)


class MerchantPagination(CursorPagination):
    ordering = ("legal_name", "id")


class MerchantListApi(generics.ListAPIView):
    serializer_class = MerchantOutput
    pagination_class = MerchantPagination
    throttle_classes = [UserRateThrottle]

    @extend_schema(parameters=[OpenApiParameter("search", str)], tags=["accounts"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.merchant_list_for(self.request.user, search=self.request.query_params.get("search", ""))


class NeutralCreateApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(request=NeutralCreateInput, responses={201: UserOutput}, tags=["accounts"])
    def post(self, request):
        if not policies.can_create_accounts(request.user):
            raise Forbidden(_("Only operators create mediator, arbitrator and operator accounts."))
        data = NeutralCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(acting_user=request.user, **data.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)
